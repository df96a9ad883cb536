"""Who is asking: mutual-TLS identity of agency systems, operators at the console."""

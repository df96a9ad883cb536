"""Operating the exchange: the operations listener, its metrics and checks, the access log."""

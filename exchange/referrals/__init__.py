"""Referrals between agencies: signed hand-offs with a duty to act and to report back."""

"""Publish/subscribe: subscriptions, the pull feed, push delivery (DESIGN §5, §8, §9)."""

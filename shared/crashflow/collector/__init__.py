"""The collector: accepts crash uploads, throttles them, stores them and queues them."""

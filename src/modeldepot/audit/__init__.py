"""The audit log: one hash-chained record per change, which is also the event stream."""

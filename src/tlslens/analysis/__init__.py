"""Analysis: compose the layers into one record per connection.

`pipeline.py` is the one place that imports capture, net and tls together.
"""

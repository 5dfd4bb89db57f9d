"""shared/metrics"""

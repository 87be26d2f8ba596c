"""transfer: sentiment and emotion benchmarks on the emoji embedding."""

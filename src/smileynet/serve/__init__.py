"""serve: web page and REST API for a trained model."""

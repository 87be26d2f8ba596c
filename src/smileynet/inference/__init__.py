"""predict, embed, export: inference on a trained model."""

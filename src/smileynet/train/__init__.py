"""train and evaluate SmileyNet."""

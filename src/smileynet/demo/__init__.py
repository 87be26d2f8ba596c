"""demo: the whole pipeline on a generated world."""

"""Model construction and loading shared by every stage."""

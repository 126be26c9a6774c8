"""Ask the data: questions in Korean or English answered from the data (SQL) and documents (retrieval)."""

"""K-Mart demand & ordering engine: framework-free domain code.

Nothing in this package imports streamlit. Heavy libraries (tensorflow, llama_index,
chromadb, torch) are imported lazily inside the functions that need them.
"""

__version__ = "0.1.0"

"""Ask the data: entities, glossary, SQL guard and engine, templates, retrieval and answers (no streamlit)."""

"""The data layer: the five input tables, their schema, readers, validation and the loaded `Dataset`.

Everything above (analysis, forecasting, inventory, ordering, ask, batch) reads the data through
this package; nothing here imports from those layers.
"""

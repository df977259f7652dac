"""The model bundle: what a model is in memory (``model``), on disk (``format``,
``serialization``, ``io``), adopted from plain scikit-learn files (``adoption``),
and which files the service is willing to load (``trust``)."""

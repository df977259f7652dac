"""The web page's views: the model card, the form, the results, and how they are rendered.

The routes are in ``serving.api.routes.ui``; this package depends on plain data
(``GET /model_information``'s dict, a ``Prediction``), not on the app.
"""

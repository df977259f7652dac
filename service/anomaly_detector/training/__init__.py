"""Training: fit preprocessing and a detector (``train``), place and re-tune the threshold
(``thresholds``), evaluate against labels (``evaluation``) and describe the result."""

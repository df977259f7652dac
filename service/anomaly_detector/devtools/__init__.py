"""Developer tools: the native stack, the traffic simulator, notebook helpers and plots."""

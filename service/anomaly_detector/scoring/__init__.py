"""The one scoring path shared by the service, the CLI, batch jobs and the notebooks."""

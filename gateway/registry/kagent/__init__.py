"""kagent ``Agent`` resources as the registry (issue 15, README "Kubernetes / kagent")."""

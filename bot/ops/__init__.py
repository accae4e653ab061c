"""Operations, shared by the bot and `stylebot worker`: the heartbeat file and health check, Prometheus
metrics, logging with secrets redacted. Imports nothing else from the bot."""

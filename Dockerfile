FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir .
COPY policies ./policies
COPY templates ./templates
COPY config ./config
ENV SPAWNGATE_POLICIES_DIR=/app/policies \
    SPAWNGATE_TEMPLATES_DIR=/app/templates \
    SPAWNGATE_HOST=0.0.0.0
EXPOSE 8080
CMD ["spawngate", "serve"]

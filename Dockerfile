# The dashboard in a container: a slim Python with PyTorch's CPU-only wheel (about 200 MB,
# where the default CUDA build is several GB). Build and run:
#   docker build -t rnn-sentiment-lab .
#   docker run -p 8501:8501 -e SENTIMENT_PUBLIC=1 -v $PWD/sst:/data/sst:ro -e SST_DIR=/data/sst rnn-sentiment-lab
FROM python:3.11-slim

# cc builds the compiled recurrences on first use (sentiment_core/models/native.py); without it
# the same models run on torch operations, slower.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && grep -v -E '^(torch|pytest|playwright)==' requirements.txt > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e .

# Runs, caches and a downloaded treebank go to /data (mount a volume to keep them).
ENV SENTIMENT_DATA_DIR=/data
RUN useradd --create-home app && mkdir -p /data && chown app /data
USER app

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "dashboard/app.py", "--server.port=8501", "--server.address=0.0.0.0", \
     "--server.headless=true", "--browser.gatherUsageStats=false"]

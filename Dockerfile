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
# torch's CPU-only wheel first, at the version pyproject.toml pins (read from it, so the pin lives in one
# place); the install below keeps it, since 2.13.0+cpu satisfies torch==2.13.0. Its own layer: a code
# change does not download it again.
COPY pyproject.toml ./
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "$(python -c 'import tomllib; \
    deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; \
    print(next(d for d in deps if d.startswith("torch==")))')"
# The package with the dashboard and the Redis queue (the same image runs the web server and the
# workers, compose.yaml); not the test extra.
COPY . .
RUN pip install --no-cache-dir -e ".[dashboard,queue]"

# Runs, caches and a downloaded treebank go to /data (mount a volume to keep them).
ENV SENTIMENT_DATA_DIR=/data
RUN useradd --create-home app && mkdir -p /data && chown app /data
USER app

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "dashboard/app.py", "--server.port=8501", "--server.address=0.0.0.0", \
     "--server.headless=true", "--browser.gatherUsageStats=false"]

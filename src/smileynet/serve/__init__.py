"""serve: web page and REST API for a trained model (`smileynet serve MODEL`).

`predictor` (model, vocabulary, zero-shot sentiment, fingerprints -> one image's answer),
`batcher` (micro-batching of concurrent requests), `upload` (bounded in-memory request reading),
`app` (FastAPI: /v1/predict, /v1/model, /healthz, /docs, the page), `server` (uvicorn),
`timeouts` (a deadline on request headers, which uvicorn lacks).
"""

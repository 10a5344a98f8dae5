"""Emulators of the services sorabeat talks to (Elasticsearch, Kibana, scripted HTTP), on real
loopback sockets. They live under ``tools/`` so that both the tests and the benchmarks can
start them: tools never import tests."""

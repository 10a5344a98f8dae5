"""sorabeat: ships Sora (WebRTC SFU) statistics to Logstash or Elasticsearch."""

__version__ = "0.1.0"

# One node of the 3-node Raft cluster that tests/vault_cluster.rs starts on 127.0.0.1 (see
# OPENBAO.md in the design notes). The test fills in the words in braces.
storage "raft" {
  path    = "{data}"
  node_id = "{node}"
  # Fast elections: a SIGKILLed leader is replaced in about a second (the default 5: ~13 s).
  performance_multiplier = 1
}

listener "tcp" {
  address         = "127.0.0.1:{api_port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}

api_addr     = "http://127.0.0.1:{api_port}"
cluster_addr = "https://127.0.0.1:{cluster_port}"

// Package subtensor is the miner's client of the Bittensor subtensor chain: the
// metagraph of a subnet (who holds which uid, with what stake and validator permit,
// where their axons are), registration checks, and the extrinsics a miner signs with
// its hotkey (serve_axon, set_weights), plus burned_register and Sudo for tests.
//
// It follows ../shared/reference/subtensor-chain.md and bittensor 6.1.0's
// subtensor.py / chain_data.py for what is read and how values are normalised, and the
// opentensor/subtensor runtime for the encodings. Nothing runtime-specific is
// hard-coded: pallet and call indices, call argument types, storage keys and the
// signed-extension list all come from the chain's metadata (package
// bittensor/scale/metadata), cached per runtime spec version. The same code was run
// against runtimes spec 103 (2023, SubtensorModule at pallet 8), 143 (early 2024, no
// NeuronInfoRuntimeApi) and 218 (2025, CheckMetadataHash) under chopsticks.
//
// # Chains
//
// Chain is the interface the miner uses. Client talks to a node over one shared,
// reconnecting websocket (package bittensor/rpc); MockChain is an offline chain for
// running the miner without any node. Open picks one from a Config, which carries
// bittensor's flags:
//
//	--subtensor.network        finney | test | archive | local | mock | ws(s)://URL (default finney)
//	--subtensor.chain_endpoint ws(s)://URL, overrides the network's endpoint
//	--subtensor.mock_metagraph FILE, the mock network's metagraph (JSON, below)
//
// with bittensor 6.1.0's endpoints: finney wss://entrypoint-finney.opentensor.ai:443,
// test wss://test.finney.opentensor.ai:443/, archive
// wss://archive.chain.opentensor.ai:443/, local ws://127.0.0.1:9944. BT_SUBTENSOR_NETWORK
// and BT_SUBTENSOR_CHAIN_ENDPOINT set the flags' defaults.
//
// # Metagraph
//
// A Metagraph is an immutable snapshot of one subnet at one block. Neurons carry the
// chain's raw values (stake and emission in rao, scores as u16 fractions of 65535);
// methods give the SDK's normalised floats. Client.Metagraph reads it with the
// runtime API NeuronInfoRuntimeApi_get_neurons_lite (both the Vec<u8>-wrapped result
// of runtimes up to spec 218 and the typed result of later ones) and falls back to
// storage when the runtime lacks the API. Both give the stake the runtime API
// reports: the sum of the hotkey's Stake(hotkey, coldkey) entries where the runtime
// has that map (up to spec 218, dynamic TAO included), else TotalHotkeyStake (TAO),
// else TotalHotkeyAlpha of the subnet (later runtimes, whose stake is alpha). MetagraphHolder
// publishes snapshots atomically, and SyncMetagraph keeps one fresh.
//
// # Mock metagraph file
//
// The mock network reads the same JSON that `btlm-miner chain metagraph --json`
// prints, so a snapshot of a real subnet can be replayed offline:
//
//	{
//	  "netuid": 1,
//	  "block": 1000,
//	  "neurons": [
//	    {"uid": 0, "hotkey": "5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM",
//	     "coldkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
//	     "stake": 2000000000000, "validator_permit": true, "active": true,
//	     "axon": {"ip": "8.8.8.8", "port": 8091, "ip_type": 4, "protocol": 4, "version": 610}},
//	    {"uid": 1, "hotkey": "0x0101010101010101010101010101010101010101010101010101010101010101"}
//	  ]
//	}
//
// Accounts are SS58 addresses or 0x-prefixed hex public keys. uids must be exactly
// 0..n-1 (in any order) and hotkeys unique. Omitted fields are zero: stake and
// emission (rao), rank, trust, validator_trust, consensus, incentive, dividends,
// pruning_score (u16, 65535 = 1.0), last_update (block), validator_permit and active
// (bool), axon (ip "" or "0.0.0.0" = not serving; ip_type is derived from the ip when
// 0). Unknown fields are an error. The file is limited to 64 MiB.
//
// Without a file the mock chain has, on every netuid, one neuron: uid 0 holding the
// miner's own hotkey, with no stake and no validator permit. The mock's block number
// starts at the file's block and advances every 12 s; ServeAxon and SetWeights update
// its copy of the metagraph, with the chain's checks for a registered hotkey and a
// public IP.
package subtensor

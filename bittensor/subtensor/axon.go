package subtensor

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// AxonInfo is a neuron's published axon endpoint, pallet_subtensor's AxonInfo
// (opentensor/subtensor runtime, unchanged from 2023 to HEAD). On chain it is 34 bytes of
// little-endian SCALE: block u64, version u32, ip u128, port u16, ip_type u8,
// protocol u8, placeholder1 u8, placeholder2 u8.
type AxonInfo struct {
	Block        uint64 `json:"block"`        // block of the last serve_axon
	Version      uint32 `json:"version"`      // client version (bittensor 6.1.0 sends 610)
	IP           string `json:"ip"`           // dotted IPv4 or IPv6 text; "0.0.0.0" = not serving
	Port         uint16 `json:"port"`         // TCP port
	IPType       uint8  `json:"ip_type"`      // 4 or 6
	Protocol     uint8  `json:"protocol"`     // 4 (TCP) in bittensor
	Placeholder1 uint8  `json:"placeholder1"` // reserved, 0
	Placeholder2 uint8  `json:"placeholder2"` // reserved, 0
}

// AxonInfoSize is the encoded size of AxonInfo.
const AxonInfoSize = 34

// Serving reports whether the axon has been announced (bittensor: ip != 0.0.0.0).
func (a AxonInfo) Serving() bool {
	addr, err := netip.ParseAddr(a.IP)
	return err == nil && !addr.IsUnspecified()
}

// String formats the endpoint as host:port.
func (a AxonInfo) String() string {
	addr, err := netip.ParseAddr(a.IP)
	if err != nil {
		return fmt.Sprintf("%s:%d", a.IP, a.Port)
	}
	return netip.AddrPortFrom(addr, a.Port).String()
}

// SameEndpoint reports whether two axons announce the same endpoint (ip, port, ip
// type, protocol, version); block is ignored. A miner calls serve_axon only when the
// on-chain record differs from what it would publish.
func (a AxonInfo) SameEndpoint(b AxonInfo) bool {
	return a.IP == b.IP && a.Port == b.Port && a.IPType == b.IPType &&
		a.Protocol == b.Protocol && a.Version == b.Version
}

// EncodeIP returns the chain form of an IP address: the big-endian numeric value of
// the address (bittensor net.ip_to_int: 1.2.3.4 → 16909060) as a little-endian u128,
// and its ip_type (4 or 6). IPv4-mapped IPv6 addresses count as IPv4.
func EncodeIP(ip string) (u128 [16]byte, ipType uint8, err error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return u128, 0, fmt.Errorf("axon ip %q: %w", ip, err)
	}
	addr = addr.Unmap()
	if addr.Zone() != "" {
		return u128, 0, fmt.Errorf("axon ip %q: zoned address cannot be published", ip)
	}
	if addr.Is4() {
		v4 := addr.As4()
		binary.LittleEndian.PutUint32(u128[:4], binary.BigEndian.Uint32(v4[:]))
		return u128, 4, nil
	}
	v6 := addr.As16()
	for i := range 16 {
		u128[i] = v6[15-i]
	}
	return u128, 6, nil
}

// DecodeIP is the inverse of EncodeIP (bittensor net.int_to_ip). An ip_type other than
// 6 is read as IPv4 from the low 32 bits, as the SDK does for the values it writes;
// an IPv4 value above 2^32-1 is an error.
func DecodeIP(u128 [16]byte, ipType uint8) (string, error) {
	if ipType == 6 {
		var v6 [16]byte
		for i := range 16 {
			v6[i] = u128[15-i]
		}
		return netip.AddrFrom16(v6).String(), nil
	}
	for _, b := range u128[4:] {
		if b != 0 {
			return "", fmt.Errorf("ip_type %d with a value above 2^32-1", ipType)
		}
	}
	var v4 [4]byte
	binary.BigEndian.PutUint32(v4[:], binary.LittleEndian.Uint32(u128[:4]))
	return netip.AddrFrom4(v4).String(), nil
}

// decodeAxonInfo reads the fixed 34-byte AxonInfo layout.
func decodeAxonInfo(b []byte) (AxonInfo, error) {
	if len(b) < AxonInfoSize {
		return AxonInfo{}, fmt.Errorf("axon info: %d bytes, want %d", len(b), AxonInfoSize)
	}
	var ip [16]byte
	copy(ip[:], b[12:28])
	a := AxonInfo{
		Block:        binary.LittleEndian.Uint64(b[0:8]),
		Version:      binary.LittleEndian.Uint32(b[8:12]),
		Port:         binary.LittleEndian.Uint16(b[28:30]),
		IPType:       b[30],
		Protocol:     b[31],
		Placeholder1: b[32],
		Placeholder2: b[33],
	}
	s, err := DecodeIP(ip, a.IPType)
	if err != nil {
		// Keep the record readable: an unparsable ip is shown as unspecified.
		s = "0.0.0.0"
	}
	a.IP = s
	return a, nil
}

// encodeAxonInfo writes the fixed 34-byte AxonInfo layout; IPType is written as given.
func encodeAxonInfo(a AxonInfo) ([]byte, error) {
	ip, _, err := EncodeIP(a.IP)
	if err != nil {
		return nil, err
	}
	b := make([]byte, AxonInfoSize)
	binary.LittleEndian.PutUint64(b[0:8], a.Block)
	binary.LittleEndian.PutUint32(b[8:12], a.Version)
	copy(b[12:28], ip[:])
	binary.LittleEndian.PutUint16(b[28:30], a.Port)
	b[30], b[31], b[32], b[33] = a.IPType, a.Protocol, a.Placeholder1, a.Placeholder2
	return b, nil
}

package subtensor

import (
	"fmt"
	"math"
)

// NormalizeWeights converts float weights to the u16 values set_weights sends, as
// bittensor 6.1.0 weight_utils.convert_weights_and_uids_for_emit does: divide by the
// largest weight, multiply by 65535, round half to even (Python round), and drop
// zeros together with their uids. Negative or non-finite weights are an error.
func NormalizeWeights(uids []uint16, weights []float64) ([]uint16, []uint16, error) {
	if len(uids) != len(weights) {
		return nil, nil, fmt.Errorf("weights: %d uids but %d weights", len(uids), len(weights))
	}
	var top float64
	for _, w := range weights {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, nil, fmt.Errorf("weights: invalid weight %v", w)
		}
		top = max(top, w)
	}
	var outUIDs, outW []uint16
	if top == 0 {
		return outUIDs, outW, nil
	}
	for i, w := range weights {
		v := math.RoundToEven(w / top * 65535)
		if v == 0 {
			continue
		}
		outUIDs = append(outUIDs, uids[i])
		outW = append(outW, uint16(v))
	}
	return outUIDs, outW, nil
}

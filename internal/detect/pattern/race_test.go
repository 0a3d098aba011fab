//go:build race

package pattern

// raceEnabled is set under the race detector, which makes sync.Pool drop
// items at random, so pooled paths allocate now and then.
const raceEnabled = true

// Command corpus builds the benchmark corpus: real CloudTrail records from
// testdata/aws replayed with fresh event ids, times, accounts and source
// addresses, written as gzipped CloudTrail log files of -per-file records,
// as CloudTrail delivers them to S3. The output depends only on the flags.
//
//	go run ./bench/corpus -out bench/out/corpus -events 200000
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

func main() {
	out := flag.String("out", "bench/out/corpus", "output `directory`")
	src := flag.String("src", "testdata/aws/cloudtrail", "`directory` of real CloudTrail data to replay")
	cases := flag.String("exposures", "internal/rules/catalog/s3.yaml", "S3 exposure test records (a catalogue suite file) mixed in (one per -exposure-every records); empty for none")
	every := flag.Int("exposure-every", 2000, "mix in one exposure case every `n` records")
	events := flag.Int("events", 200000, "number of `records` to write")
	perFile := flag.Int("per-file", 1000, "`records` per file")
	seed := flag.Uint64("seed", 1, "random `seed`")
	nAddrs := flag.Int("addrs", 5000, "distinct caller `addresses`")
	flag.Parse()
	if *nAddrs < 1 {
		log.Fatal("-addrs must be at least 1")
	}

	pool, err := loadPool(*src)
	if err != nil {
		log.Fatal(err)
	}
	var exposures []record
	if *cases != "" {
		if exposures, err = loadCases(*cases); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	accounts := make([]string, 64)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", rng.Int64N(1e12))
	}
	// Callers come from a pool of addresses, as in a real trail where the
	// same people and machines call again and again. Anonymised addresses
	// in the sources ("253.252.51.07", which no parser accepts) are
	// replaced too.
	addrs := make([]netip.Addr, *nAddrs)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var total, files, bytesOut int
	for total < *events {
		n := min(*perFile, *events-total)
		var buf bytes.Buffer
		buf.WriteString(`{"Records":[`)
		account := accounts[rng.IntN(len(accounts))]
		region := regions[rng.IntN(len(regions))]
		for i := range n {
			if i > 0 {
				buf.WriteByte(',')
			}
			var r record
			if len(exposures) > 0 && (total+i)%*every == *every/2 {
				r = exposures[rng.IntN(len(exposures))]
			} else {
				r = pool[rng.IntN(len(pool))]
			}
			t := start.Add(time.Duration(total+i) * 37 * time.Millisecond)
			r.write(&buf, rng, addrs, account, region, t)
		}
		buf.WriteString("]}")
		name := fmt.Sprintf("%s_CloudTrail_%s_%s_%08x.json.gz", account, region, start.Add(time.Duration(total)*37*time.Millisecond).Format("20060102T1504Z"), files)
		if err := writeGzip(filepath.Join(*out, name), buf.Bytes()); err != nil {
			log.Fatal(err)
		}
		total += n
		files++
		bytesOut += buf.Len()
	}
	fmt.Printf("wrote %d records in %d files (%.1f MB uncompressed) to %s from a pool of %d real records\n",
		total, files, float64(bytesOut)/1e6, *out, len(pool))
}

var regions = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}

// record is one CloudTrail record split into its top-level members.
type record struct {
	keys    []string
	vals    [][]byte
	account string // the account id to replace everywhere
}

func parseRecord(raw []byte) (record, error) {
	var r record
	it := jsonscan.NewObjectIter(raw)
	for it.Next() {
		k := string(it.Key())
		r.keys = append(r.keys, k)
		r.vals = append(r.vals, append([]byte(nil), it.Value()...))
		if k == "recipientAccountId" {
			r.account = jsonscan.Str(it.Value())
		}
	}
	return r, it.Err()
}

// write writes the record with a fresh eventID, requestID, eventTime,
// source address, region and account.
func (r record) write(w *bytes.Buffer, rng *rand.Rand, addrs []netip.Addr, account, region string, t time.Time) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + k + `":`)
		v := r.vals[i]
		switch k {
		case "eventID":
			fmt.Fprintf(&b, `"%08x-%04x-4%03x-8%03x-%012x"`, rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
		case "requestID":
			fmt.Fprintf(&b, `"%016X"`, rng.Uint64())
		case "eventTime":
			b.WriteString(`"` + t.Format(time.RFC3339) + `"`)
		case "awsRegion":
			b.WriteString(`"` + region + `"`)
		case "sourceIPAddress":
			if looksLikeAddr(jsonscan.Str(v)) {
				b.WriteString(`"` + addrs[rng.IntN(len(addrs))].String() + `"`)
			} else {
				b.Write(v) // a service name, "AWS Internal"
			}
		default:
			b.Write(v)
		}
	}
	b.WriteByte('}')
	out := b.Bytes()
	if r.account != "" {
		out = bytes.ReplaceAll(out, []byte(r.account), []byte(account))
	}
	w.Write(out)
}

// looksLikeAddr reports whether s is written like an IP address, even an
// invalid one, rather than a service name.
func looksLikeAddr(s string) bool {
	if s == "" {
		return false
	}
	if strings.Contains(s, ":") {
		return strings.Trim(s, "0123456789abcdefABCDEF:.") == ""
	}
	return strings.Trim(s, "0123456789.") == "" && strings.Count(s, ".") == 3
}

// loadPool reads every CloudTrail record under dir: Records files (gzipped
// or not), JSON arrays of records, and AWS documentation example files.
func loadPool(dir string) ([]record, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz")) && !strings.Contains(p, "cribl-sample") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var pool []record
	for _, p := range paths {
		raws, err := recordsIn(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, raw := range raws {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			r, err := parseRecord(buf.Bytes())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			pool = append(pool, r)
		}
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("no CloudTrail records under %s", dir)
	}
	return pool, nil
}

func recordsIn(path string) ([]json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var file struct {
		Records []json.RawMessage `json:"Records"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		if err := json.Unmarshal(data, &file); err != nil {
			return nil, err
		}
		return file.Records, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, el := range arr {
		var ex struct {
			Example json.RawMessage `json:"example"`
		}
		if json.Unmarshal(el, &ex) == nil && len(ex.Example) > 0 {
			// AWS documentation examples: {"title", "example": {"Records": [...]}} or a record.
			var doc struct {
				Records []json.RawMessage `json:"Records"`
			}
			if err := json.Unmarshal(ex.Example, &doc); err == nil && len(doc.Records) > 0 {
				out = append(out, doc.Records...)
			} else if bytes.Contains(ex.Example, []byte(`"eventVersion"`)) {
				out = append(out, ex.Example)
			}
			continue
		}
		out = append(out, el)
	}
	return out, nil
}

func loadCases(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []record
	seen := map[string]bool{}
	dec := yaml.NewDecoder(f)
	for {
		var suite struct {
			Tests []struct {
				Name  string
				Event any
			}
		}
		if err := dec.Decode(&suite); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, tc := range suite.Tests {
			if seen[tc.Name] {
				continue
			}
			seen[tc.Name] = true
			b, err := json.Marshal(tc.Event)
			if err != nil {
				return nil, err
			}
			r, err := parseRecord(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, tc.Name, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func writeGzip(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

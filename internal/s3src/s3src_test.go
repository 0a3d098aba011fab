package s3src

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigil-sec/vigil/internal/source"
	"github.com/vigil-sec/vigil/internal/testsrv"
)

// s3Server is what the tests need of an S3-compatible server from testsrv.
type s3Server interface {
	S3() *s3.Client
	CreateBucket(t testing.TB, name string)
	PutObject(t testing.TB, bucket, key string, body []byte)
}

// servers starts the S3-compatible servers the tests run against:
// versitygw (a real S3 gateway over a directory) and Moto.
func servers(t *testing.T) map[string]s3Server {
	t.Helper()
	return map[string]s3Server{"versitygw": testsrv.VersityGW(t), "moto": testsrv.Moto(t)}
}

// readAll opens in and reads it whole.
func readAll(t *testing.T, in source.Input) ([]byte, error) {
	t.Helper()
	rc, err := in.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func names(inputs []source.Input) []string {
	var n []string
	for _, in := range inputs {
		n = append(n, in.Name)
	}
	return n
}

func TestAgainstServers(t *testing.T) {
	t.Parallel()
	for name, srv := range servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := srv.S3()
			srv.CreateBucket(t, "trail")
			objects := map[string]string{
				"AWSLogs/1/CloudTrail/eu-west-1/2026/01/02/b.json.gz": "bb",
				"AWSLogs/1/CloudTrail/eu-west-1/2026/01/02/a.json.gz": "a",
				"AWSLogs/1/CloudTrail/eu-west-1/2026/01/03/c.json.gz": "ccc",
				"AWSLogs/1/CloudTrail-Digest/d.json.gz":               "d",
				"AWSLogs/1/CloudTrail/eu-west-1/big.json.gz":          strings.Repeat("x", 100),
				"AWSLogs/1/CloudTrail/eu-west-1/empty.json":           "",
				"AWSLogs/1/CloudTrail/eu-west-1/folder/":              "",
				"AWSLogs/1/CloudTrail/eu-west-1/red flower+é.json":    "rf",
				"AWSLogs/2/CloudTrail/x.json.gz":                      "x",
			}
			for k, v := range objects {
				srv.PutObject(t, "trail", k, []byte(v))
			}

			t.Run("List", func(t *testing.T) {
				type skip struct {
					key    string
					size   int64
					reason string
				}
				var mu sync.Mutex
				var skipped []skip
				inputs, err := List(ctx, c, "trail", "AWSLogs/1/CloudTrail/", ListOptions{
					PageSize: 2,
					MaxSize:  50,
					Skipped: func(key string, size int64, reason string) {
						mu.Lock()
						skipped = append(skipped, skip{key, size, reason})
						mu.Unlock()
					},
				})
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				want := []string{
					"s3://trail/AWSLogs/1/CloudTrail/eu-west-1/2026/01/02/a.json.gz",
					"s3://trail/AWSLogs/1/CloudTrail/eu-west-1/2026/01/02/b.json.gz",
					"s3://trail/AWSLogs/1/CloudTrail/eu-west-1/2026/01/03/c.json.gz",
					"s3://trail/AWSLogs/1/CloudTrail/eu-west-1/red flower+é.json",
				}
				if got := names(inputs); !slices.Equal(got, want) {
					t.Errorf("List names =\n%q\nwant\n%q", got, want)
				}
				for _, in := range inputs {
					b, err := readAll(t, in)
					key := strings.TrimPrefix(in.Name, "s3://trail/")
					if err != nil || string(b) != objects[key] {
						t.Errorf("%s: read %q, %v; want %q", in.Name, b, err, objects[key])
					}
				}
				slices.SortFunc(skipped, func(a, b skip) int { return strings.Compare(a.key, b.key) })
				wantSkipped := []skip{
					{"AWSLogs/1/CloudTrail/eu-west-1/big.json.gz", 100, "too large"},
					{"AWSLogs/1/CloudTrail/eu-west-1/empty.json", 0, "empty"},
					{"AWSLogs/1/CloudTrail/eu-west-1/folder/", 0, "folder"},
				}
				if !slices.Equal(skipped, wantSkipped) {
					t.Errorf("skipped %+v, want %+v", skipped, wantSkipped)
				}
			})

			t.Run("ListNothing", func(t *testing.T) {
				inputs, err := List(ctx, c, "trail", "AWSLogs/9/", ListOptions{})
				if err != nil || len(inputs) != 0 {
					t.Errorf("List of an empty prefix = %q, %v; want nothing", names(inputs), err)
				}
			})

			t.Run("ListMissingBucket", func(t *testing.T) {
				_, err := List(ctx, c, "no-such-bucket", "", ListOptions{})
				if err == nil || !IsNotFound(err) || !strings.Contains(err.Error(), "s3src: list s3://no-such-bucket/") {
					t.Errorf("List of a missing bucket: err = %v, want a not-found error naming it", err)
				}
			})

			t.Run("OpenObject", func(t *testing.T) {
				rc, err := OpenObject(ctx, c, "trail", "AWSLogs/1/CloudTrail/eu-west-1/red flower+é.json")
				if err != nil {
					t.Fatalf("OpenObject: %v", err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(b) != "rf" {
					t.Errorf("OpenObject read %q, %v; want %q", b, err, "rf")
				}
				_, err = OpenObject(ctx, c, "trail", "AWSLogs/1/nope")
				if !IsNotFound(err) || !strings.Contains(err.Error(), "s3://trail/AWSLogs/1/nope") {
					t.Errorf("OpenObject of a missing key: err = %v, want not found, naming it", err)
				}
			})

			t.Run("MaxSize", func(t *testing.T) {
				in := ObjectInput(ctx, c, "trail", "AWSLogs/1/CloudTrail/eu-west-1/big.json.gz", 99)
				if _, err := readAll(t, in); !errors.Is(err, ErrTooLarge) {
					t.Errorf("reading 100 bytes with a limit of 99: err = %v, want ErrTooLarge", err)
				}
				in = ObjectInput(ctx, c, "trail", "AWSLogs/1/CloudTrail/eu-west-1/big.json.gz", 100)
				if b, err := readAll(t, in); err != nil || len(b) != 100 {
					t.Errorf("reading 100 bytes with a limit of 100 = %d bytes, %v", len(b), err)
				}
			})

			t.Run("AltKey", func(t *testing.T) {
				srv.PutObject(t, "trail", "eb/a b c.gz", []byte("decoded"))
				r := Ref{Bucket: "trail", Key: "eb/a+b%20c.gz", AltKey: "eb/a b c.gz"}
				in := r.Input(ctx, c, 0)
				if b, err := readAll(t, in); err != nil || string(b) != "decoded" || in.Name != "s3://trail/eb/a+b%20c.gz" {
					t.Errorf("Ref.Input falling back to AltKey: %s read %q, %v", in.Name, b, err)
				}
				r.AltKey = "eb/none"
				if _, err := readAll(t, r.Input(ctx, c, 0)); !IsNotFound(err) {
					t.Errorf("Ref.Input with neither key: err = %v, want not found", err)
				}
			})
		})
	}
}

// TestListManyPages lists more keys than one page of S3's default size
// holds.
func TestListManyPages(t *testing.T) {
	t.Parallel()
	srv := testsrv.VersityGW(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv.CreateBucket(t, "many")
	const n = 1005
	var want []string
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				srv.PutObject(t, "many", k, []byte(k))
			}
		})
	}
	for i := range n {
		// Directories of varying depth: a walk of the tree is not S3's
		// byte order, so the sort is needed.
		k := fmt.Sprintf("p/%02d/%04d.json", i%7, i)
		if i%3 == 0 {
			k = fmt.Sprintf("p/%02d-x/%04d.json", i%7, i)
		}
		want = append(want, "s3://many/"+k)
		keys <- k
	}
	close(keys)
	wg.Wait()
	slices.Sort(want)

	var calls int
	counting := countingClient{Client: srv.S3(), lists: &calls}
	inputs, err := List(ctx, counting, "many", "p/", ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := names(inputs); !slices.Equal(got, want) {
		t.Errorf("List returned %d names, want %d, sorted by key", len(got), len(want))
	}
	if calls != 2 {
		t.Errorf("List made %d ListObjectsV2 calls for %d keys, want 2 pages of at most 1000", calls, n)
	}
	b, err := readAll(t, inputs[n-1])
	if want := strings.TrimPrefix(inputs[n-1].Name, "s3://many/"); err != nil || string(b) != want {
		t.Errorf("%s read %q, %v", inputs[n-1].Name, b, err)
	}
}

// countingClient counts ListObjectsV2 calls.
type countingClient struct {
	Client
	lists *int
}

func (c countingClient) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	*c.lists++
	return c.Client.ListObjectsV2(ctx, in, opts...)
}

// TestNewClientEnvironment checks that the endpoint, region and
// credentials can all come from the environment, as the SDK reads them.
func TestNewClientEnvironment(t *testing.T) {
	srv := testsrv.VersityGW(t)
	srv.CreateBucket(t, "env")
	srv.PutObject(t, "env", "k", []byte("v"))
	isolateAWSConfig(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	t.Setenv("AWS_REGION", srv.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := NewClient(ctx, Options{PathStyle: true})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	inputs, err := List(ctx, c, "env", "", ListOptions{})
	if err != nil || len(inputs) != 1 {
		t.Fatalf("List through AWS_ENDPOINT_URL_S3 = %q, %v", names(inputs), err)
	}

	// An explicit endpoint and credentials win over the environment.
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	c, err = NewClient(ctx, Options{
		Endpoint: srv.URL, PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if b, err := readAll(t, ObjectInput(ctx, c, "env", "k", 0)); err != nil || string(b) != "v" {
		t.Errorf("read through Options.Endpoint = %q, %v", b, err)
	}
}

// isolateAWSConfig keeps the SDK away from the machine's AWS configuration
// and instance metadata.
func isolateAWSConfig(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestNewClientErrors(t *testing.T) {
	isolateAWSConfig(t)
	ctx := context.Background()
	if _, err := NewClient(ctx, Options{}); !errors.Is(err, ErrNoRegion) {
		t.Errorf("NewClient without a region: err = %v, want ErrNoRegion", err)
	}
	for _, e := range []string{"127.0.0.1:7070", "ftp://x", "http://"} {
		if _, err := NewClient(ctx, Options{Region: "eu-west-1", Endpoint: e}); err == nil || !strings.Contains(err.Error(), "endpoint") {
			t.Errorf("NewClient(Endpoint %q): err = %v, want an endpoint error", e, err)
		}
	}
	if _, err := NewClient(ctx, Options{Region: "eu-west-1", Profile: "nope"}); err == nil {
		t.Errorf("NewClient with a profile that does not exist: no error")
	}
}

// pipeClient serves every GetObject from a pipe, so that a test can see
// whether Open reads before it returns.
type pipeClient struct {
	Client
	r *io.PipeReader
}

func (c pipeClient) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: c.r}, nil
}

// TestOpenStreams checks that Open hands over the body without reading it,
// and that a body longer than the limit fails when read past it. The real
// servers always send the length first, so this needs a fake.
func TestOpenStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	in := ObjectInput(context.Background(), pipeClient{r: pr}, "b", "k", 8)
	rc, err := in.Open() // would block if it read the body
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	go func() {
		pw.Write([]byte("12345"))
		pw.Write([]byte("6789"))
		pw.Close()
	}()
	b, err := io.ReadAll(rc)
	if !errors.Is(err, ErrTooLarge) || !bytes.Equal(b, []byte("12345678")) {
		t.Errorf("reading 9 bytes with a limit of 8 = %q, %v; want the first 8 and ErrTooLarge", b, err)
	}
	rc.Close()
}

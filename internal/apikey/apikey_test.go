package apikey_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/apikey"
)

var keyFormat = regexp.MustCompile(`^wfk_[a-z0-9]{32}$`)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		key, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !keyFormat.MatchString(key) {
			t.Fatalf("%q does not match wfk_ + 32 of [a-z0-9]", key)
		}
		if err := apikey.Validate(key); err != nil {
			t.Fatalf("a generated key fails validation: %v", err)
		}
		if seen[key] {
			t.Fatalf("duplicate key after %d", i)
		}
		seen[key] = true
	}
}

func TestGenerateUsesEverySymbolInEveryRandomPosition(t *testing.T) {
	counts := make([]map[byte]int, apikey.RandomLength)
	for i := range counts {
		counts[i] = map[byte]int{}
	}
	for i := 0; i < 3000; i++ {
		key, _ := apikey.Generate()
		for pos := 0; pos < apikey.RandomLength; pos++ {
			counts[pos][key[len(apikey.Prefix)+pos]]++
		}
	}
	for pos, c := range counts {
		if len(c) != 36 {
			t.Fatalf("position %d saw %d symbols in 3000 keys, want all 36", pos, len(c))
		}
	}
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name, random, want string
	}{
		// Expected values computed independently with Python's zlib.crc32:
		// CRC32("a"*26) = 0xe8b53ab8 = 3904191160; mod 36^6 = 1727408824.
		{"is CRC32 reduced mod 36^6 in base 36", strings.Repeat("a", 26), "skgd6g"},
		// CRC32("0"*26) = 0xd66c01c2 = 3597402562; mod 36^6 = 1420620226.
		{"of zeros", strings.Repeat("0", 26), "nhstky"},
		// CRC32 mod 36^6 = 24478350, under 36^5: five digits, padded.
		{"is left-padded to six characters", strings.Repeat("a", 20) + "000042", "0eknm6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apikey.Checksum(tt.random); got != tt.want {
				t.Fatalf("Checksum(%q) = %q, want %q", tt.random, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good, _ := apikey.Generate()
	flipped := []byte(good)
	if flipped[10] == 'a' {
		flipped[10] = 'b'
	} else {
		flipped[10] = 'a'
	}
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"accepts a generated key", good, true},
		{"refuses the empty string", "", false},
		{"refuses the seed page's example key, whose checksum is made up", "wfk_abc123def456ghi789jkl012mno345pq", false},
		{"refuses a key with one character changed", string(flipped), false},
		{"refuses another prefix", "wfx_" + good[4:], false},
		{"refuses upper case", strings.ToUpper(good[:4]) + strings.ToUpper(good[4:]), false},
		{"refuses a key one character short", good[:len(good)-1], false},
		{"refuses a key one character long", good + "a", false},
		{"refuses punctuation", good[:20] + "-" + good[21:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apikey.Validate(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
		})
	}
}

func TestHash(t *testing.T) {
	// sha256("wfk_test"), computed independently with Python's hashlib.
	const want = "aa1a85e197cd547396436f48f45d6d6a197423c836567c715869bad77aeb1d13"
	got := apikey.Hash("wfk_test")
	if got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
	if !apikey.HashesEqual(got, apikey.Hash("wfk_test")) || apikey.HashesEqual(got, apikey.Hash("wfk_tesu")) {
		t.Fatal("HashesEqual does not tell equal hashes from different ones")
	}
}

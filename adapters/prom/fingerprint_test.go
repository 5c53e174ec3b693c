package prom

import (
	"reflect"
	"testing"
	"time"

	"ddn/domain"
)

// TestFingerprintCoversMachine changes every field of a machine, one at a
// time and down into its info structs, and requires each change to change
// the fingerprint: a field added to domain.Machine and not hashed would let
// a refresh keep a stale snapshot.
func TestFingerprintCoversMachine(t *testing.T) {
	base := func() domain.Machine {
		return domain.Machine{ShortTerm: &domain.ShortTermInfo{}, Bandwidth: &domain.BandwidthInfo{}, Location: &domain.Location{}}
	}
	f := newFingerprinter()
	m := base()
	want := f.sum([]domain.Machine{m})
	fields := 0
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch {
		case v.Type() == reflect.TypeFor[time.Time]():
			fields++
			v.Set(reflect.ValueOf(time.Unix(1_700_000_000, 0)))
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
			return
		case v.Kind() == reflect.Pointer:
			// A nil and a zero struct must differ too.
			fields++
			saved := reflect.New(v.Type().Elem())
			saved.Elem().Set(v.Elem())
			v.Set(reflect.Zero(v.Type()))
			if f.sum([]domain.Machine{m}) == want {
				t.Errorf("%s: nil and zero give the same fingerprint", path)
			}
			v.Set(saved)
			walk(path, v.Elem())
			return
		case v.Kind() == reflect.String:
			fields++
			v.SetString("x")
		case v.CanInt():
			fields++
			v.SetInt(7)
		case v.CanUint():
			fields++
			v.SetUint(7)
		case v.CanFloat():
			fields++
			v.SetFloat(0.5)
		case v.Kind() == reflect.Slice:
			fields++
			elem := reflect.New(v.Type().Elem()).Elem()
			switch {
			case elem.Kind() == reflect.String:
				elem.SetString("x")
			case elem.CanInt():
				elem.SetInt(7)
			default:
				t.Fatalf("%s: slice of %s: teach this test the kind", path, elem.Kind())
			}
			v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), elem))
		default:
			t.Fatalf("%s: kind %s: teach this test and the fingerprint the kind", path, v.Kind())
		}
		if f.sum([]domain.Machine{m}) == want {
			t.Errorf("%s: changing it does not change the fingerprint", path)
		}
		v.Set(reflect.Zero(v.Type()))
		if f.sum([]domain.Machine{m}) != want {
			t.Fatalf("%s: restoring it does not restore the fingerprint", path)
		}
	}
	walk("Machine", reflect.ValueOf(&m).Elem())
	if fields < 40 {
		t.Fatalf("walked %d fields; the walk is broken", fields)
	}
}

// TestFingerprintOrderAndBoundaries checks that the fingerprint sees the
// order of machines and where one string ends and the next begins.
func TestFingerprintOrderAndBoundaries(t *testing.T) {
	f := newFingerprinter()
	a := domain.Machine{Key: domain.MachineKey{MachineID: "a", Project: "bc"}}
	b := domain.Machine{Key: domain.MachineKey{MachineID: "ab", Project: "c"}}
	if f.sum([]domain.Machine{a}) == f.sum([]domain.Machine{b}) {
		t.Error("a|bc and ab|c give the same fingerprint")
	}
	if f.sum([]domain.Machine{a, b}) == f.sum([]domain.Machine{b, a}) {
		t.Error("the order of machines does not change the fingerprint")
	}
	if f.sum([]domain.Machine{a, b}) != f.sum([]domain.Machine{a, b}) {
		t.Error("the same fleet gives two fingerprints")
	}
}

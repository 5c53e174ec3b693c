package domain

import "testing"

func TestSignerOwnsWallet(t *testing.T) {
	const signer = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
	for _, w := range []string{"", signer, "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23", "2C7536E3605D9C16A7A3D7B1898E529396A65C23", "0X2c7536E3605D9C16a7a3D7b1898e529396a65c23"} {
		if err := SignerOwnsWallet(signer, w); err != nil {
			t.Errorf("wallet %q: %v", w, err)
		}
	}
	for _, tc := range []struct{ signer, wallet string }{
		{signer, "0xabc"}, {signer, signer + "0"}, {"", "0xabc"}, {signer, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"},
	} {
		if err := SignerOwnsWallet(tc.signer, tc.wallet); CodeOf(err) != CodeSign {
			t.Errorf("signer %q wallet %q: %v, want code 3", tc.signer, tc.wallet, err)
		}
	}
}

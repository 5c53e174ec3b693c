package signature_test

// The worked example of the README ("Message signatures").
const (
	exampleKey     = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	exampleBody    = `{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"}`
	exampleAddress = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
	examplePub     = "044e3b81af9c2234cad09d679ce6035ed1392347ce64ce405f5dcd36228a25de6e47fd35c4215d1edf53e6f83de344615ce719bdb0fd878f6ed76f06dd277956de"
	exampleHash    = "abbf3c0a36e66133e42ba4a17dd193f4029d685dee5c3413ab65952a73c9f60a"
	exampleSign    = "d0203fb7e7c8817a73dc567697ce1c223e8d33d38fc4d0e7af1457420dab94454e55b228ff66ccb5fea390be202dd3340a13d6b9413cb07457d9ab49c268102500"
)

// Package simrack is an in-memory simulation of a Convox v3 rack API server.
//
// It speaks the same wire protocol as the real rack (convox/convox pkg/api on
// top of convox/stdapi and gorilla/mux), so the gateway's dev mode, its tests
// and a real `convox` CLI session can all run against it:
//
//   - routing follows gorilla/mux with SkipClean: the route table of the real
//     rack, paths are not cleaned, `{key:.*}` variables may contain `/`,
//     unknown paths get an empty 404 without any auth check, a path whose
//     route exists only for other methods gets an empty 405, and SOCKET routes
//     match only requests carrying `Upgrade: websocket`;
//   - authentication is HTTP Basic only: username `jwt` carries a rack-signed
//     HS256 JWT, any other username carries the rack password (admin);
//   - websockets are upgraded before authentication, exactly like the rack:
//     auth failures arrive as an `ERROR: …` text frame followed by the empty
//     binary frame that ends every stream;
//   - state (apps, builds, releases, processes, resources, objects, …) lives
//     in memory, is safe for concurrent use and is seeded with realistic,
//     secret-bearing data (see seed.go).
//
// Rack.Requests records every request that reached the handler so tests can
// assert what a gateway forwarded upstream.
//
// Deliberate differences from a real rack: every response (including 404,
// 405, /check and the 101 of an upgrade) carries Request-Id and the security
// headers; object bodies larger than 1 MiB keep only their size, SHA-256 and
// first MiB (a build of such a source assumes what it could not see, such
// as the manifest, exists: buildsim.go); websocket connections are closed by the server a few seconds
// after the end-of-stream frame instead of never.
package simrack

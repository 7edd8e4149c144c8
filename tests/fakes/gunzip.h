#pragma once

// Gunzip for tests of gzip-encoded responses (/metrics with
// Accept-Encoding: gzip): the whole inflated body of one gzip member, or ""
// on any zlib error or a truncated stream. Link zlib.

#include <zlib.h>

#include <string>

namespace jailwarden::fakes {

inline std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return "";
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : "";
}

}  // namespace jailwarden::fakes

#pragma once

// iocage's list table (texttable in iocage's "list" output):
//   +-----+------+---------+
//   | JID | NAME | STATE   |
//   +=====+======+=========+
//   | 1   | web  | running |
//   +-----+------+---------+
// and its scripted form (-H: no header, columns separated by tabs).

#include <string>
#include <vector>

namespace jailwarden::cli {

using Row = std::vector<std::string>;

std::string FormatTable(const Row& header, const std::vector<Row>& rows);
std::string FormatScripted(const std::vector<Row>& rows);

}  // namespace jailwarden::cli

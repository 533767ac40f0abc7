#include "tests/support/ttar.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tests {
namespace {

// Replaces unescaped EOF / NULLBYTE tokens; returns whether the line ends without newline.
bool Unescape(const std::string& line, std::string& out) {
  out.clear();
  bool no_newline = false;
  for (size_t i = 0; i < line.size();) {
    if (line.compare(i, 4, "\\EOF") == 0) {
      out += "EOF";
      i += 4;
    } else if (line.compare(i, 9, "\\NULLBYTE") == 0) {
      out += "NULLBYTE";
      i += 9;
    } else if (line.compare(i, 3, "EOF") == 0) {
      no_newline = true;
      i += 3;
    } else if (line.compare(i, 8, "NULLBYTE") == 0) {
      out += '\0';
      i += 8;
    } else {
      out += line[i++];
    }
  }
  return no_newline;
}

}  // namespace

common::Status ExtractTtar(const std::string& archive, const std::string& dest) {
  namespace fs = std::filesystem;
  std::ifstream in(archive);
  if (!in) return common::Status::NotFound("cannot open " + archive);
  std::error_code ec;
  fs::create_directories(dest, ec);
  std::string line, path, content, tmp;
  auto mode_of = [](const std::string& l) { return std::stoi(l.substr(6), nullptr, 8); };
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("Directory: ", 0) == 0) {
      path = dest + "/" + line.substr(11);
      fs::create_directories(path, ec);
      if (ec) return common::Status::IOError("mkdir " + path + ": " + ec.message());
      continue;
    }
    if (line.rfind("Mode: ", 0) == 0) {
      if (!path.empty()) ::chmod(path.c_str(), static_cast<mode_t>(mode_of(line) | 0200));
      continue;
    }
    if (line.rfind("Path: ", 0) != 0) continue;
    path = dest + "/" + line.substr(6);
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (!std::getline(in, line)) return common::Status::Corruption("truncated ttar at " + path);
    if (line.rfind("SymlinkTo: ", 0) == 0) {
      fs::remove(path, ec);
      fs::create_symlink(line.substr(11), path, ec);
      if (ec) return common::Status::IOError("symlink " + path + ": " + ec.message());
      path.clear();  // no Mode line follows a symlink
      continue;
    }
    if (line.rfind("Lines: ", 0) != 0) return common::Status::Corruption("bad ttar entry " + path);
    int n = std::stoi(line.substr(7));
    content.clear();
    for (int i = 0; i < n; ++i) {
      if (!std::getline(in, line)) return common::Status::Corruption("truncated ttar at " + path);
      bool no_nl = Unescape(line, tmp);
      content += tmp;
      if (!no_nl) content += '\n';
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) return common::Status::IOError("write " + path);
  }
  return common::Status::Ok();
}

}  // namespace tests

#include "common/yaml/yaml.h"

#include <yaml.h>

#include <charconv>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace common::yaml {

const Node* Node::Get(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.kind == Kind::kScalar && k.scalar == key) return &v;
  }
  return nullptr;
}

std::string Node::Where() const {
  return file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
}

Status Node::Error(std::string_view path, std::string_view msg) const {
  std::string m = Where() + ": ";
  if (!path.empty()) {
    m += path;
    m += ": ";
  }
  m += msg;
  return Status::InvalidArgument(m);
}

Result<std::string> Node::AsString(std::string_view path) const {
  if (kind == Kind::kNull) return std::string();
  if (kind != Kind::kScalar) return Error(path, "expected a string");
  return scalar;
}

Result<bool> Node::AsBool(std::string_view path) const {
  if (kind == Kind::kScalar && !quoted) {
    if (scalar == "true" || scalar == "True" || scalar == "TRUE") return true;
    if (scalar == "false" || scalar == "False" || scalar == "FALSE") return false;
  }
  return Error(path, "expected true or false");
}

Result<int64_t> Node::AsInt(std::string_view path) const {
  if (kind == Kind::kScalar && !quoted) {
    int64_t v;
    auto r = std::from_chars(scalar.data(), scalar.data() + scalar.size(), v);
    if (r.ec == std::errc() && r.ptr == scalar.data() + scalar.size()) return v;
  }
  return Error(path, "expected an integer, got \"" + scalar + "\"");
}

Result<double> Node::AsDouble(std::string_view path) const {
  if (kind == Kind::kScalar && !quoted) {
    double v;
    auto r = std::from_chars(scalar.data(), scalar.data() + scalar.size(), v);
    if (r.ec == std::errc() && r.ptr == scalar.data() + scalar.size()) return v;
  }
  return Error(path, "expected a number, got \"" + scalar + "\"");
}

namespace {

struct Parser {
  yaml_parser_t p;
  std::string file;
  std::map<std::string, Node> anchors;
  Parser() { yaml_parser_initialize(&p); }
  ~Parser() { yaml_parser_delete(&p); }

  Status Err(const char* what) {
    std::string m = file + ":" + std::to_string(p.problem_mark.line + 1) + ":" +
                    std::to_string(p.problem_mark.column + 1) + ": " + what;
    if (p.problem) {
      m += ": ";
      m += p.problem;
    }
    return Status::InvalidArgument(m);
  }

  // Reads the node starting with `ev` (already fetched).
  Status ReadNode(yaml_event_t& ev, Node& out, int depth) {
    if (depth > 200) return Status::InvalidArgument(file + ": document nested too deeply");
    out.file = file;
    out.mark = {static_cast<int>(ev.start_mark.line) + 1, static_cast<int>(ev.start_mark.column) + 1};
    std::string anchor;
    switch (ev.type) {
      case YAML_ALIAS_EVENT: {
        std::string a(reinterpret_cast<char*>(ev.data.alias.anchor));
        auto it = anchors.find(a);
        if (it == anchors.end()) return Status::InvalidArgument(out.Where() + ": unknown alias *" + a);
        Mark m = out.mark;
        out = it->second;
        out.mark = m;
        return Status::Ok();
      }
      case YAML_SCALAR_EVENT:
        out.kind = Node::Kind::kScalar;
        out.scalar.assign(reinterpret_cast<char*>(ev.data.scalar.value), ev.data.scalar.length);
        out.quoted = ev.data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                     ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
                     ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                     ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
        if (ev.data.scalar.anchor) anchor = reinterpret_cast<char*>(ev.data.scalar.anchor);
        break;
      case YAML_SEQUENCE_START_EVENT: {
        out.kind = Node::Kind::kSequence;
        if (ev.data.sequence_start.anchor) anchor = reinterpret_cast<char*>(ev.data.sequence_start.anchor);
        for (;;) {
          yaml_event_t e;
          if (!yaml_parser_parse(&p, &e)) return Err("YAML syntax error");
          if (e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            break;
          }
          Node child;
          Status s = ReadNode(e, child, depth + 1);
          yaml_event_delete(&e);
          LOOKOUT_RETURN_IF_ERROR(s);
          out.items.push_back(std::move(child));
        }
        break;
      }
      case YAML_MAPPING_START_EVENT: {
        out.kind = Node::Kind::kMapping;
        if (ev.data.mapping_start.anchor) anchor = reinterpret_cast<char*>(ev.data.mapping_start.anchor);
        for (;;) {
          yaml_event_t e;
          if (!yaml_parser_parse(&p, &e)) return Err("YAML syntax error");
          if (e.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&e);
            break;
          }
          Node key;
          Status s = ReadNode(e, key, depth + 1);
          yaml_event_delete(&e);
          LOOKOUT_RETURN_IF_ERROR(s);
          yaml_event_t ve;
          if (!yaml_parser_parse(&p, &ve)) return Err("YAML syntax error");
          Node val;
          s = ReadNode(ve, val, depth + 1);
          yaml_event_delete(&ve);
          LOOKOUT_RETURN_IF_ERROR(s);
          if (key.kind == Node::Kind::kScalar && key.scalar == "<<" && val.IsMap()) {
            for (auto& kv : val.entries) {
              if (!out.Get(kv.first.scalar)) out.entries.push_back(kv);
            }
            continue;
          }
          if (key.kind == Node::Kind::kScalar && out.Get(key.scalar)) {
            return Status::InvalidArgument(key.Where() + ": mapping key \"" + key.scalar +
                                           "\" already defined");
          }
          out.entries.emplace_back(std::move(key), std::move(val));
        }
        break;
      }
      default:
        return Status::InvalidArgument(out.Where() + ": unexpected YAML event");
    }
    if (!anchor.empty()) anchors[anchor] = out;
    return Status::Ok();
  }
};

}  // namespace

Result<Node> ParseString(std::string_view text, const std::string& filename) {
  Parser ps;
  ps.file = filename;
  yaml_parser_set_input_string(&ps.p, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  Node root;
  root.file = filename;
  root.mark = {1, 1};
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&ps.p, &ev)) return ps.Err("YAML syntax error");
    yaml_event_type_t t = ev.type;
    if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
      yaml_event_delete(&ev);
      continue;
    }
    Status s = ps.ReadNode(ev, root, 0);
    yaml_event_delete(&ev);
    if (!s.ok()) return s;
  }
  return root;
}

Result<Node> ParseFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseString(ss.str(), path);
}

}  // namespace common::yaml

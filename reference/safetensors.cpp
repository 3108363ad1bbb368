#include "reference/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "reference/checkpoint.h"
#include "reference/file_io.h"
#include "reference/printable.h"

namespace gpt2 {

static_assert(std::endian::native == std::endian::little,
              "safetensors files are little-endian; this build assumes a little-endian machine");

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw CheckpointError(printable(path.string() + ": " + what));
}

struct Dtype {
  std::string_view name;
  std::size_t bytes;
};
// The format's byte-sized dtypes (sub-byte ones such as F4 are not GPT-2 weights).
constexpr Dtype kDtypes[] = {{"BOOL", 1},    {"U8", 1},      {"I8", 1},  {"F8_E5M2", 1},
                             {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"I16", 2}, {"U16", 2},
                             {"F16", 2},     {"BF16", 2},    {"I32", 4}, {"U32", 4},
                             {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};

std::string known_dtypes() {
  std::string out;
  for (const Dtype& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

bool is_float_weight_dtype(std::string_view dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

// A JSON value as one short line, for messages.
std::string brief(const Json& j) {
  std::string s = j.dump(-1, ' ', true, Json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// nlohmann's message without its "[json.exception...] " tag, on one line.
std::string json_message(const std::exception& e) {
  std::string s = e.what();
  if (s.starts_with("[json.exception.")) {
    if (std::size_t close = s.find("] "); close != std::string::npos) s = s.substr(close + 2);
  }
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

std::string range_text(std::uint64_t begin, std::uint64_t end) {
  std::ostringstream out;  // (not string concatenation: g++ 12 warns falsely there, -Wrestrict)
  out << '[' << begin << ", " << end << ']';
  return out.str();
}

// Opens `path` for reading and returns its size; a folder or an unreadable file is an error.
std::uint64_t open_file(const std::filesystem::path& path, Fd& file) {
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a safetensors file");
  return std::uint64_t(st.st_size);
}

// Checks the 8-byte header length `n` against the file's `size`.
void check_header_length(std::uint64_t n, std::uint64_t size, const std::filesystem::path& path) {
  if (n > kSafetensorsMaxHeaderBytes) {
    fail(path, "header length " + std::to_string(n) + " is beyond the format's limit of " +
                   std::to_string(kSafetensorsMaxHeaderBytes) +
                   " bytes: not a safetensors file, or a damaged one");
  }
  if (n > size - 8) {
    fail(path, "the header length (" + std::to_string(n) +
                   " bytes) runs past the end of the file (" + std::to_string(size) +
                   " bytes): truncated, or not a safetensors file");
  }
}

void check_size(std::uint64_t size, const std::filesystem::path& path) {
  if (size < 8) {
    fail(path, "too short for a safetensors file: it holds " + std::to_string(size) +
                   " bytes, the header's length alone takes 8");
  }
}

SafetensorsHeader read_header(int fd, std::uint64_t size, const std::filesystem::path& path) {
  check_size(size, path);
  std::uint64_t n = 0;
  if (!read_fully(fd, &n, 8, 0)) fail(path, std::string("cannot read: ") + std::strerror(errno));
  check_header_length(n, size, path);
  std::string text(n, '\0');
  if (!read_fully(fd, text.data(), n, 8)) {
    fail(path, std::string("cannot read the header: ") + std::strerror(errno));
  }
  return parse_safetensors_header(text, size, path);
}

SafetensorsHeader header_from_memory(std::span<const unsigned char> file,
                                     const std::filesystem::path& path) {
  check_size(file.size(), path);
  std::uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  check_header_length(n, file.size(), path);
  const std::string_view text(reinterpret_cast<const char*>(file.data()) + 8, std::size_t(n));
  return parse_safetensors_header(text, file.size(), path);
}

}  // namespace

std::uint64_t SafetensorsTensor::elements() const {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;
  return n;
}

const SafetensorsTensor* SafetensorsHeader::find(std::string_view name) const {
  for (const SafetensorsTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

float f16_to_float(std::uint16_t x) {
  const std::uint32_t sign = std::uint32_t(x & 0x8000u) << 16;
  const std::uint32_t exponent = (x >> 10) & 0x1fu;
  std::uint32_t mantissa = x & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal: mantissa * 2^-24. Shift the leading one into the implicit bit.
    std::uint32_t e = 127 - 14;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

SafetensorsHeader parse_safetensors_header(std::string_view json, std::uint64_t file_bytes,
                                           const std::filesystem::path& path) {
  SafetensorsHeader h;
  h.header_bytes = json.size();
  h.data_start = 8 + json.size();
  if (file_bytes < h.data_start) {
    fail(path, "the header (" + std::to_string(json.size()) + " bytes) does not fit in the file (" +
                   std::to_string(file_bytes) + " bytes)");
  }
  h.data_bytes = file_bytes - h.data_start;

  // JSON parsers keep one of two equal keys silently; the format forbids them.
  std::set<std::string> keys;
  std::string duplicate;
  const Json::parser_callback_t note_duplicates = [&](int depth, Json::parse_event_t event,
                                                      Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && parsed.is_string()) {
      if (!keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  Json j;
  try {
    j = Json::parse(json.begin(), json.end(), note_duplicates);
  } catch (const Json::exception& e) {
    fail(path, "the header is not valid JSON: " + json_message(e));
  }
  if (!j.is_object()) {
    fail(path, std::string("the header is not a JSON object (it is ") + j.type_name() +
                   "): not a safetensors file");
  }
  if (!duplicate.empty()) {
    fail(path, "the header names '" + duplicate + "' twice (the format forbids duplicate keys)");
  }

  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) {
        fail(path, "__metadata__ is not an object of strings: " + brief(value));
      }
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          fail(path, "__metadata__ entry '" + mkey + "' is not a string: " + brief(mvalue));
        }
        h.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor '" + key + "'";
    if (!value.is_object()) fail(path, what + " is not described by an object: " + brief(value));
    SafetensorsTensor t;
    t.name = key;

    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) {
      fail(path, what + " has no dtype string");
    }
    t.dtype = dtype->get<std::string>();
    for (const Dtype& d : kDtypes) {
      if (d.name == t.dtype) t.dtype_bytes = d.bytes;
    }
    if (t.dtype_bytes == 0) {
      fail(path, what + " has unknown dtype '" + t.dtype + "' (known: " + known_dtypes() + ")");
    }

    const auto shape = value.find("shape");
    const bool shape_ok = shape != value.end() && shape->is_array() &&
                          std::all_of(shape->begin(), shape->end(),
                                      [](const Json& d) { return d.is_number_unsigned(); });
    if (!shape_ok) {
      fail(path, what + ": shape must be an array of non-negative integers, not " +
                     (shape == value.end() ? std::string("missing") : brief(*shape)));
    }
    for (const Json& d : *shape) t.shape.push_back(d.get<std::uint64_t>());

    const auto offsets = value.find("data_offsets");
    const bool offsets_ok = offsets != value.end() && offsets->is_array() && offsets->size() == 2 &&
                            (*offsets)[0].is_number_unsigned() &&
                            (*offsets)[1].is_number_unsigned();
    if (!offsets_ok) {
      fail(path, what + ": data_offsets must be [begin, end], two non-negative integers, not " +
                     (offsets == value.end() ? std::string("missing") : brief(*offsets)));
    }
    t.begin = (*offsets)[0].get<std::uint64_t>();
    t.end = (*offsets)[1].get<std::uint64_t>();
    if (t.end < t.begin) {
      fail(path, what + ": data_offsets " + range_text(t.begin, t.end) + " end before they begin");
    }

    std::uint64_t bytes = t.dtype_bytes;
    bool overflow = false;
    for (std::uint64_t d : t.shape) overflow = __builtin_mul_overflow(bytes, d, &bytes) || overflow;
    if (overflow) fail(path, what + ": shape " + shape_text(t.shape) + " is impossibly large");
    if (t.end - t.begin != bytes) {
      fail(path, what + ": shape " + shape_text(t.shape) + " of " + t.dtype + " needs " +
                     std::to_string(bytes) + " bytes, but its data_offsets " +
                     range_text(t.begin, t.end) + " hold " + std::to_string(t.end - t.begin));
    }
    h.tensors.push_back(std::move(t));
  }

  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const auto last = std::max_element(h.tensors.begin(), h.tensors.end(),
                                     [](const auto& a, const auto& b) { return a.end < b.end; });
  if (last != h.tensors.end() && last->end > h.data_bytes) {
    fail(path, "truncated, or bad offsets: tensor '" + last->name + "' ends at byte " +
                   std::to_string(last->end) + " of the data, but the file holds " +
                   std::to_string(h.data_bytes) + " bytes of data after its " +
                   std::to_string(h.header_bytes) + "-byte header");
  }
  // The tensors must tile the data section: each starts where the one before ends.
  std::uint64_t covered = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor& t : h.tensors) {
    if (t.begin < covered) {
      fail(path, "tensor '" + t.name + "' (data bytes " + range_text(t.begin, t.end) +
                     ") overlaps tensor '" + previous->name + "' (" +
                     range_text(previous->begin, previous->end) + ")");
    }
    if (t.begin > covered) {
      fail(path, "data bytes " + range_text(covered, t.begin) +
                     " belong to no tensor (the format requires the tensors to cover the data "
                     "without gaps)");
    }
    covered = t.end;
    previous = &t;
  }
  if (covered != h.data_bytes) {
    fail(path, std::to_string(h.data_bytes - covered) +
                   " trailing byte(s) after the last tensor: the tensors cover " +
                   std::to_string(covered) + " bytes of data, the file holds " +
                   std::to_string(h.data_bytes));
  }
  return h;
}

SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  Fd file(-1);
  const std::uint64_t size = open_file(path, file);
  return read_header(file.fd, size, path);
}

bool looks_like_safetensors(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return true;
  if (path.extension() == ".safetensors") return true;
  std::ifstream in(path, std::ios::binary);
  unsigned char head[9];
  if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return false;
  std::uint64_t n = 0;
  std::memcpy(&n, head, 8);
  return head[8] == '{' && n >= 2 && n <= kSafetensorsMaxHeaderBytes;
}

namespace {

// What config.json beside the weights says, checked against the weights.
struct HfConfig {
  std::optional<int> num_heads;
};

// The GPT-2 family's heads by channel count (presets in config.h).
std::optional<int> family_heads(int channels) {
  for (const char* name : {"124M", "355M", "774M", "1558M"}) {
    const ModelConfig c = *find_preset(name);
    if (c.channels == channels) return c.num_heads;
  }
  return std::nullopt;
}

// Reads `config_path`'s text.
std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, std::string("cannot read: ") + std::strerror(errno));
  return text.str();
}

// `text`, the contents of `config_path` (HF's GPT2Config as JSON), checked against `w`, the
// dimensions read from the weights (num_heads not yet known). Throws CheckpointError naming
// config.json.
HfConfig parse_hf_config(std::string_view text, const std::filesystem::path& config_path,
                         const ModelConfig& w, const std::filesystem::path& weights_path) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    fail(config_path, "not valid JSON: " + json_message(e));
  }
  if (!j.is_object()) fail(config_path, "is not a JSON object");

  const std::string weights = weights_path.filename().string();
  auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
      fail(config_path, std::string(key) + " is " + brief(*it) + ", expected an integer");
    }
    return it->get<std::int64_t>();
  };
  auto must_match = [&](const char* key, int value, const std::string& evidence) {
    if (std::optional<std::int64_t> v = integer(key); v && *v != value) {
      fail(config_path, std::string(key) + " is " + std::to_string(*v) + ", but " + weights +
                            " has " + std::to_string(value) + " (" + evidence + ")");
    }
  };
  if (const auto it = j.find("model_type"); it != j.end() && it->is_string() && *it != "gpt2") {
    fail(config_path,
         "model_type is '" + it->get<std::string>() + "', not 'gpt2': not a GPT-2 configuration");
  }
  const std::string wte_shape =
      "wte.weight is " + shape_text({std::uint64_t(w.vocab_size), std::uint64_t(w.channels)});
  must_match("n_embd", w.channels, "channels: " + wte_shape);
  must_match("vocab_size", w.vocab_size, "tokens: " + wte_shape);
  must_match("n_layer", w.num_layers, "layers h.0 to h." + std::to_string(w.num_layers - 1));
  const std::string wpe_shape =
      "positions: wpe.weight is " +
      shape_text({std::uint64_t(w.max_seq_len), std::uint64_t(w.channels)});
  must_match("n_positions", w.max_seq_len, wpe_shape);
  must_match("n_ctx", w.max_seq_len, wpe_shape);
  must_match("n_inner", 4 * w.channels, "4 * channels: the MLP's width");

  if (const auto it = j.find("layer_norm_epsilon"); it != j.end() && !it->is_null()) {
    if (!it->is_number() || std::fabs(it->get<double>() - 1e-5) > 1e-12) {
      fail(config_path,
           "layer_norm_epsilon is " + brief(*it) + ", but GPT-2 here (as in llm.c) uses 1e-05");
    }
  }
  if (const auto it = j.find("activation_function"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || (*it != "gelu_new" && *it != "gelu_pytorch_tanh")) {
      fail(config_path, "activation_function is " + brief(*it) +
                            ", but GPT-2 here computes gelu_new (GELU's tanh approximation) only");
    }
  }
  if (const auto it = j.find("scale_attn_weights"); it != j.end() && *it == false) {
    fail(
        config_path,
        "scale_attn_weights is false, but GPT-2 here always scales attention by 1/sqrt(head size)");
  }
  if (const auto it = j.find("scale_attn_by_inverse_layer_idx"); it != j.end() && *it == true) {
    fail(config_path, "scale_attn_by_inverse_layer_idx is true, which GPT-2 here does not support");
  }

  HfConfig out;
  if (std::optional<std::int64_t> heads = integer("n_head")) {
    if (*heads <= 0 || *heads > w.channels || w.channels % *heads != 0) {
      fail(config_path, "n_head is " + std::to_string(*heads) + ", which does not divide the " +
                            std::to_string(w.channels) + " channels of " + weights);
    }
    out.num_heads = int(*heads);
  }
  return out;
}

// Where a GPT-2 tensor of HF's naming sits: global, in layer i, or a buffer to ignore.
enum class Kind { kGlobal, kLayer, kIgnored, kUnknown };

constexpr std::string_view kLayerTensors[] = {
    "ln_1.weight",        "ln_1.bias",        "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",        "ln_2.bias",
    "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};

Kind classify(std::string_view name, int* layer) {
  for (std::string_view g :
       {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"}) {
    if (name == g) return Kind::kGlobal;
  }
  if (!name.starts_with("h.")) return Kind::kUnknown;
  name.remove_prefix(2);
  const std::size_t dot = name.find('.');
  const std::string_view digits = name.substr(0, dot);
  if (dot == std::string_view::npos || digits.empty() || digits.size() > 4 ||
      (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Kind::kUnknown;
  }
  *layer = std::stoi(std::string(digits));
  const std::string_view rest = name.substr(dot + 1);
  if (rest == "attn.bias" || rest == "attn.masked_bias") return Kind::kIgnored;
  for (std::string_view t : kLayerTensors) {
    if (rest == t) return Kind::kLayer;
  }
  return Kind::kUnknown;
}

// Reads a tensor's elements as float32 into `out`.
void to_float(const unsigned char* src, std::string_view dtype, std::size_t n, float* out) {
  if (dtype == "F32") {
    std::memcpy(out, src, n * 4);
  } else {
    const bool bf16 = dtype == "BF16";
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t v;
      std::memcpy(&v, src + 2 * i, 2);
      out[i] = bf16 ? bf16_to_float(v) : f16_to_float(v);
    }
  }
}

// The memory-mapped file, unmapped on every way out.
struct Mapping {
  void* data = MAP_FAILED;
  std::size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) ::munmap(data, size);
  }
};

// Copies HF's tensors into llm.c's layout, checking dtype, shape and values on the way.
class Gpt2Reader {
 public:
  Gpt2Reader(const std::filesystem::path& path, const SafetensorsHeader& header,
             const unsigned char* data)
      : path_(path), data_(data) {
    for (const SafetensorsTensor& t : header.tensors) {
      std::string_view name = t.name;
      if (name.starts_with("transformer.")) name.remove_prefix(12);
      int layer = -1;
      switch (classify(name, &layer)) {
        case Kind::kIgnored:
          continue;
        case Kind::kUnknown:
          fail(path_, "unexpected tensor '" + t.name +
                          "': not part of a GPT-2 language model (HF GPT2LMHeadModel names such "
                          "as wte.weight and h.0.attn.c_attn.weight)");
        case Kind::kLayer:
          num_layers_ = std::max(num_layers_, layer + 1);
          break;
        case Kind::kGlobal:
          break;
      }
      const auto [it, added] = tensors_.emplace(std::string(name), &t);
      if (!added) {
        fail(path_, "tensor '" + std::string(name) + "' appears twice (as '" + it->second->name +
                        "' and '" + t.name + "')");
      }
    }
  }

  int num_layers() const { return num_layers_; }

  const SafetensorsTensor& need(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      fail(path_, "missing tensor '" + name + "'" +
                      (name.starts_with("h.")
                           ? " (the file has layers h.0 to h." + std::to_string(num_layers_ - 1) +
                                 ", and every layer needs it)"
                           : std::string(" (not a GPT-2 checkpoint?)")));
    }
    return *it->second;
  }
  const SafetensorsTensor* find(const std::string& name) const {
    const auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : it->second;
  }

  // The dimensions of a rank-2 tensor, as ints.
  std::pair<int, int> matrix_dims(const std::string& name, const char* doc) const {
    const SafetensorsTensor& t = need(name);
    if (t.shape.size() != 2 || t.shape[0] == 0 || t.shape[1] == 0 || t.shape[0] > INT_MAX ||
        t.shape[1] > INT_MAX) {
      fail(path_, "tensor '" + t.name + "' has shape " + shape_text(t.shape) + ", expected " + doc);
    }
    return {int(t.shape[0]), int(t.shape[1])};
  }

  // Checks tensor `name` (dtype, shape `expected`, finite values) and writes it to `out` as
  // float32: as stored, or transposed (a (rows, cols) tensor written as (cols, rows)).
  // Checks tensor `name`'s presence, dtype and shape `expected`.
  const SafetensorsTensor& check(const std::string& name,
                                 const std::vector<std::uint64_t>& expected,
                                 const char* doc) const {
    const SafetensorsTensor& t = need(name);
    if (!is_float_weight_dtype(t.dtype)) {
      fail(path_, "tensor '" + t.name + "' has dtype " + t.dtype +
                      "; GPT-2 weights must be F32, F16 or BF16");
    }
    if (t.shape != expected) {
      fail(path_, "tensor '" + t.name + "' has shape " + shape_text(t.shape) + ", expected " +
                      shape_text(expected) + " " + doc);
    }
    return t;
  }

  void read(const std::string& name, const std::vector<std::uint64_t>& expected, const char* doc,
            bool transpose, float* out) {
    const SafetensorsTensor& t = check(name, expected, doc);
    const std::size_t n = t.elements();
    float* dst = out;
    if (transpose) {
      scratch_.resize(n);
      dst = scratch_.data();
    }
    to_float(data_ + t.begin, t.dtype, n, dst);
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(dst[i])) {
        fail(path_, "corrupt: tensor '" + t.name +
                        "' holds a non-finite value (NaN or infinity) at element " +
                        std::to_string(i));
      }
    }
    if (transpose) {
      // In 32 x 32 blocks, so that both sides stay in cache for the large models.
      const std::size_t rows = expected[0], cols = expected[1];
      constexpr std::size_t kBlock = 32;
      for (std::size_t r0 = 0; r0 < rows; r0 += kBlock) {
        for (std::size_t c0 = 0; c0 < cols; c0 += kBlock) {
          const std::size_t r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
          for (std::size_t c = c0; c < c1; ++c) {
            for (std::size_t r = r0; r < r1; ++r) out[c * rows + r] = dst[r * cols + c];
          }
        }
      }
    }
  }

 private:
  const std::filesystem::path& path_;
  const unsigned char* data_;
  std::map<std::string, const SafetensorsTensor*> tensors_;
  int num_layers_ = 0;
  std::vector<float> scratch_;
};

std::shared_ptr<const Model> load_gpt2(const std::filesystem::path& path,
                                       const SafetensorsHeader& header, const unsigned char* data,
                                       std::optional<std::string_view> config_json,
                                       std::string name);

}  // namespace

std::shared_ptr<const Model> load_safetensors(const std::filesystem::path& given,
                                              std::string name) {
  std::filesystem::path path = given;
  std::error_code ec;
  if (std::filesystem::is_directory(given, ec)) {
    path = given / "model.safetensors";
    if (!std::filesystem::exists(path)) {
      if (std::filesystem::exists(given / "model.safetensors.index.json")) {
        fail(given,
             "holds a sharded checkpoint (model.safetensors.index.json), which is not "
             "supported: GPT-2's checkpoints are single files");
      }
      fail(given,
           "is a folder without model.safetensors (expected a Hugging Face snapshot of a "
           "GPT-2 model, or a checkpoint file)");
    }
  }
  Fd file(-1);
  const std::uint64_t size = open_file(path, file);
  const SafetensorsHeader header = read_header(file.fd, size, path);

  Mapping map;
  map.size = std::size_t(size);
  map.data = ::mmap(nullptr, map.size, PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (map.data == MAP_FAILED) fail(path, std::string("cannot memory-map: ") + std::strerror(errno));
  ::madvise(map.data, map.size, MADV_SEQUENTIAL);
  const std::filesystem::path config_path = path.parent_path() / "config.json";
  std::optional<std::string> config_text;
  if (std::filesystem::exists(config_path)) config_text = read_text(config_path);
  return load_gpt2(path, header, static_cast<const unsigned char*>(map.data) + header.data_start,
                   config_text, std::move(name));
}

std::shared_ptr<const Model> load_safetensors_from_memory(
    std::span<const unsigned char> file, std::optional<std::string_view> config_json,
    const std::filesystem::path& path, std::string name) {
  const SafetensorsHeader header = header_from_memory(file, path);
  return load_gpt2(path, header, file.data() + header.data_start, config_json, std::move(name));
}

namespace {

// GPT-2 from a checked header and its data section; `config_json` is config.json's text, when
// the file has one beside it.
std::shared_ptr<const Model> load_gpt2(const std::filesystem::path& path,
                                       const SafetensorsHeader& header, const unsigned char* data,
                                       std::optional<std::string_view> config_json,
                                       std::string name) {
  Gpt2Reader reader(path, header, data);

  // Dimensions from the weights; heads from config.json or the GPT-2 family's presets.
  ModelConfig config;
  std::tie(config.vocab_size, config.channels) =
      reader.matrix_dims("wte.weight", "(vocab_size, channels)");
  config.max_seq_len = reader.matrix_dims("wpe.weight", "(max_seq_len, channels)").first;
  config.num_layers = reader.num_layers();
  if (config.num_layers == 0) fail(path, "has no transformer layers (no tensor named h.0.*)");
  config.padded_vocab_size = pad_vocab(config.vocab_size);
  const std::filesystem::path config_path = path.parent_path() / "config.json";
  const bool has_config = config_json.has_value();
  if (has_config) {
    config.num_heads =
        parse_hf_config(*config_json, config_path, config, path).num_heads.value_or(0);
  }
  if (config.num_heads == 0) {
    const std::optional<int> heads = family_heads(config.channels);
    if (!heads) {
      fail(path, "cannot tell the number of attention heads: " +
                     std::string(has_config ? "config.json beside it has no n_head"
                                            : "no config.json beside it") +
                     ", and " + std::to_string(config.channels) +
                     " channels is none of the GPT-2 family's (768, 1024, 1280, 1600); put the "
                     "model's config.json (with n_head) beside the file");
    }
    config.num_heads = *heads;
  }
  if (std::string problem = config_problem(config); !problem.empty()) {
    fail(path, "impossible dimensions: " + problem);
  }

  const std::uint64_t V = config.vocab_size, C = config.channels, maxT = config.max_seq_len;
  std::array<float*, kNumTensors> dst{};
  // Every tensor's presence, dtype and shape is checked (dst null) before the parameters are
  // allocated, so that a header naming h.9999 cannot ask for memory its file does not hold.
  const auto read_all = [&](bool check_only) {
    const auto read = [&](const std::string& name, const std::vector<std::uint64_t>& expected,
                          const char* doc, bool transpose, int tensor, std::uint64_t offset) {
      if (check_only) {
        reader.check(name, expected, doc);
      } else {
        reader.read(name, expected, doc, transpose, dst[tensor] + offset);
      }
    };
    read("wte.weight", {V, C}, "(vocab_size, channels)", false, kWte, 0);
    read("wpe.weight", {maxT, C}, "(max_seq_len, channels)", false, kWpe, 0);
    constexpr const char* kConv1d = "(HF's Conv1D stores its weights input by output)";
    for (int l = 0; l < config.num_layers; ++l) {
      const std::string h = "h." + std::to_string(l) + ".";
      read(h + "ln_1.weight", {C}, "(channels)", false, kLn1w, l * C);
      read(h + "ln_1.bias", {C}, "(channels)", false, kLn1b, l * C);
      read(h + "attn.c_attn.weight", {C, 3 * C}, kConv1d, true, kQkvw, l * 3 * C * C);
      read(h + "attn.c_attn.bias", {3 * C}, "(3 * channels)", false, kQkvb, l * 3 * C);
      read(h + "attn.c_proj.weight", {C, C}, kConv1d, true, kAttprojw, l * C * C);
      read(h + "attn.c_proj.bias", {C}, "(channels)", false, kAttprojb, l * C);
      read(h + "ln_2.weight", {C}, "(channels)", false, kLn2w, l * C);
      read(h + "ln_2.bias", {C}, "(channels)", false, kLn2b, l * C);
      read(h + "mlp.c_fc.weight", {C, 4 * C}, kConv1d, true, kFcw, l * 4 * C * C);
      read(h + "mlp.c_fc.bias", {4 * C}, "(4 * channels)", false, kFcb, l * 4 * C);
      read(h + "mlp.c_proj.weight", {4 * C, C}, kConv1d, true, kFcprojw, l * 4 * C * C);
      read(h + "mlp.c_proj.bias", {C}, "(channels)", false, kFcprojb, l * C);
    }
    read("ln_f.weight", {C}, "(channels)", false, kLnfw, 0);
    read("ln_f.bias", {C}, "(channels)", false, kLnfb, 0);
    if (reader.find("lm_head.weight") != nullptr) {
      reader.check("lm_head.weight", {V, C}, "(vocab_size, channels), tied to wte");
    }
  };
  read_all(true);
  std::vector<float> params(num_parameters(config), 0.0f);  // wte's padding rows stay 0
  {
    float* p = params.data();
    const auto sizes = tensor_sizes(config);
    for (int t = 0; t < kNumTensors; ++t) {
      dst[t] = p;
      p += sizes[t];
    }
  }
  read_all(false);

  // llm.c's format has no output head of its own: it reuses wte. An lm_head that is a copy of
  // wte (a tied head saved twice) is fine; any other cannot be represented.
  if (reader.find("lm_head.weight") != nullptr) {
    std::vector<float> head(V * C);
    reader.read("lm_head.weight", {V, C}, "(vocab_size, channels), tied to wte", false,
                head.data());
    const auto [a, b] = std::mismatch(head.begin(), head.end(), dst[kWte]);
    if (a != head.end()) {
      fail(path, "lm_head.weight differs from wte.weight (first at element " +
                     std::to_string(a - head.begin()) +
                     "): llm.c's format ties the output head to the token embedding, so a model "
                     "with an untied head cannot be loaded");
    }
  }
  return Model::from_parameters(config, std::move(params), name.empty() ? path.string() : name);
}

}  // namespace

}  // namespace gpt2

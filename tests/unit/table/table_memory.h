// Test helper: a 64-byte aligned, heap-backed region for a worker table.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace idmb::table::testing {

class TableMemory {
 public:
  explicit TableMemory(std::size_t size) : buffer_(size + 64) {
    void* p = buffer_.data();
    std::size_t space = buffer_.size();
    std::align(64, size, p, space);
    bytes_ = std::span<std::byte>(static_cast<std::byte*>(p), size);
  }
  std::span<std::byte> span() const { return bytes_; }

 private:
  std::vector<std::byte> buffer_;
  std::span<std::byte> bytes_;
};

}  // namespace idmb::table::testing

#include "util/byte_pipe.hpp"

#include <algorithm>
#include <cstring>

namespace wb::util {

BytePipe::BytePipe(size_t capacity, std::stop_token stop) : capacity_(capacity), stop_(std::move(stop)) {}

bool BytePipe::write(std::string_view data) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, stop_, [&] { return queued_ < capacity_ || reader_closed_ || failure_; });
  if (reader_closed_ || failure_ || stop_.stop_requested()) return false;
  chunks_.emplace_back(data);
  queued_ += data.size();
  changed_.notify_all();
  return true;
}

void BytePipe::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

void BytePipe::fail(Error error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failure_) failure_ = std::move(error);
  changed_.notify_all();
}

void BytePipe::close_reader() {
  std::lock_guard<std::mutex> lock(mu_);
  reader_closed_ = true;
  chunks_.clear();
  front_offset_ = 0;
  queued_ = 0;
  changed_.notify_all();
}

Status BytePipe::wait_readable(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, stop_, [&] { return !chunks_.empty() || closed_ || reader_closed_ || failure_; });
  if (failure_) return *failure_;
  if (stop_.stop_requested()) return Error(ErrorCode::Interrupted, "stopped");
  return {};
}

void BytePipe::drop_front(size_t whole) {
  queued_ -= whole;
  chunks_.pop_front();
  front_offset_ = 0;
  changed_.notify_all();
}

Result<size_t> BytePipe::read(char* buffer, size_t size) {
  std::unique_lock<std::mutex> lock(mu_);
  WB_TRY(wait_readable(lock));
  if (chunks_.empty()) return size_t{0};
  const std::string& front = chunks_.front();
  const size_t n = std::min(size, front.size() - front_offset_);
  std::memcpy(buffer, front.data() + front_offset_, n);
  front_offset_ += n;
  if (front_offset_ == front.size()) drop_front(front.size());
  return n;
}

Result<bool> BytePipe::read_chunk(std::string& chunk) {
  std::unique_lock<std::mutex> lock(mu_);
  WB_TRY(wait_readable(lock));
  if (chunks_.empty()) return false;
  std::string& front = chunks_.front();
  const size_t whole = front.size();
  if (front_offset_ == 0)
    chunk = std::move(front);
  else
    chunk.assign(front, front_offset_);
  drop_front(whole);
  return true;
}

}  // namespace wb::util

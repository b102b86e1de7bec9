#include "util/task_queue.h"

namespace lode {

TaskQueue::TaskQueue(int threads, size_t max_pending) : max_pending_(max_pending) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

TaskQueue::~TaskQueue() { (void)Finish(); }

Status TaskQueue::Submit(Task task) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return pending_ < max_pending_ || !error_.ok(); });
  if (!error_.ok()) return error_;
  ++pending_;
  tasks_.push_back(std::move(task));
  cv_.notify_all();
  return Status::Ok();
}

Status TaskQueue::Finish() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return pending_ == 0; });
    stopping_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  return error_;
}

void TaskQueue::Work() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    bool skip = !error_.ok();
    lock.unlock();
    Status s = skip ? Status::Ok() : task();
    task = nullptr;  // release what the task captured before waking waiters
    lock.lock();
    if (!s.ok() && error_.ok()) error_ = s;
    --pending_;
    cv_.notify_all();
  }
}

}  // namespace lode

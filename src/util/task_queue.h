// A fixed pool of threads running queued tasks, with a bound on tasks queued
// or running so a fast producer cannot run ahead of its workers (memory stays
// bounded). The first failing task's Status is kept; later tasks are dropped
// and Submit reports it. Used by one submitting thread at a time.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "util/status.h"

namespace lode {

class TaskQueue {
 public:
  using Task = std::function<Status()>;
  TaskQueue(int threads, size_t max_pending);
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Blocks while `max_pending` tasks are queued or running; fails with the
  // first task error instead of queueing once one has failed.
  Status Submit(Task task);
  // Runs what is queued, stops the threads and returns the first error.
  Status Finish();

 private:
  void Work();

  size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  size_t pending_ = 0;
  bool stopping_ = false;
  Status error_;
  std::vector<std::thread> threads_;
};

}  // namespace lode

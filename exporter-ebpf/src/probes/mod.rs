//! One file per hook, each with the kernel prototype it attaches to.

mod exec_check;
mod sched_process_exec;
mod sched_process_exit;
mod sched_process_fork;
mod security_bprm_check;
mod security_file_open;
mod sys_enter;
mod sys_exit;
